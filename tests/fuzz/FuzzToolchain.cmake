# Compiler flags of the fuzz build (-DUDM_BUILD_FUZZ=ON, see scripts/fuzz.sh):
# every udm library is built with libFuzzer's coverage instrumentation
# (fuzzer-no-link), ASan and UBSan through udm_build_flags; only the fuzzer
# executables link libFuzzer's main (tests/fuzz/CMakeLists.txt).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang" OR CMAKE_CXX_COMPILER_VERSION VERSION_LESS 16)
  message(FATAL_ERROR "UDM_BUILD_FUZZ needs clang++ 16 or newer for libFuzzer and C++23 "
    "(configure a separate build dir with -DCMAKE_CXX_COMPILER=clang++-16), not "
    "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}")
endif()
# libstdc++ 12 hides std::expected unless __cpp_concepts is 202002; clang 16
# implements what <expected> relies on (conditionally trivial special
# members, P0848) but still reports 201907. clang 14 does not, hence >= 16.
target_compile_options(udm_build_flags INTERFACE
  -D__cpp_concepts=202002L -Wno-builtin-macro-redefined -Wno-macro-redefined
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
  -fno-omit-frame-pointer)
target_link_options(udm_build_flags INTERFACE -fsanitize=address,undefined)
