# Writes version.cpp from version.cpp.in with the project version and the git revision. Run at
# every build (engine/core/CMakeLists.txt); configure_file rewrites the file only when its text
# changes, so only a new revision recompiles it.
#   cmake -DSRC=<source dir> -DIN=<template> -DOUT=<file> -DSEISMO_VERSION=<x.y.z> -P version.cmake
execute_process(
  COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12
  OUTPUT_VARIABLE SEISMO_REVISION
  RESULT_VARIABLE rc
  ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0 OR SEISMO_REVISION STREQUAL "")
  set(SEISMO_REVISION "unknown")
endif()
configure_file("${IN}" "${OUT}" @ONLY)
