# Helpers for registering tests. Every test is a plain executable that exits
# non-zero on failure (cmocka for unit tests), labelled unit / integration / fuzz.

# aos_unit_test(NAME SOURCES... [LIBS libs...])
# Tests link aos_core and aos_test_support (tests/support/ headers) plus the LIBS they name (e.g. aos_bus, aos_http, a service core), so a
# module under construction elsewhere does not break them.
function(aos_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE aos_core aos_test_support PkgConfig::CMOCKA ${T_LIBS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

# aos_integration_test(NAME SOURCES... [LIBS ...] [FIXTURES rabbitmq azurite ...] [TIMEOUT s])
# Fixture names are the ctest FIXTURES_REQUIRED names; see tests/fixtures/.
function(aos_integration_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;FIXTURES" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE aos_core aos_test_support PkgConfig::CMOCKA ${T_LIBS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS integration TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "AOS_TEST_FIXTURES_DIR=${CMAKE_BINARY_DIR}/fixtures;AOS_BIN_DIR=${CMAKE_BINARY_DIR}/bin;AOS_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  if(T_FIXTURES)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${T_FIXTURES}")
  endif()
endfunction()

# aos_fuzz_target(NAME SOURCE CORPUS_DIR [LIBS ...])
# The target may use tests/support/fuzz_util.h (the input as a C string). Builds NAME_regress (runs every file in the checked-in corpus through the target,
# registered as a test) and, when clang with libFuzzer is the compiler, NAME_fuzz.
function(aos_fuzz_target name source corpus)
  cmake_parse_arguments(T "" "" "LIBS" ${ARGN})
  add_executable(${name}_regress ${source} ${CMAKE_SOURCE_DIR}/tests/fuzz/regress_main.c)
  target_link_libraries(${name}_regress PRIVATE aos_core aos_test_support ${T_LIBS})
  set_target_properties(${name}_regress PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME fuzz_${name} COMMAND ${name}_regress ${corpus})
  set_tests_properties(fuzz_${name} PROPERTIES LABELS fuzz TIMEOUT 300)
  if(CMAKE_C_COMPILER_ID STREQUAL "Clang" AND AOS_FUZZ)
    add_executable(${name}_fuzz ${source})
    target_compile_options(${name}_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name}_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${name}_fuzz PRIVATE aos_core aos_test_support ${T_LIBS})
    set_target_properties(${name}_fuzz PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  endif()
endfunction()

# Header-only helpers for tests (tests/support/: fixture.h, stack*.h, fuzz_util.h).
add_library(aos_test_support INTERFACE)
target_include_directories(aos_test_support INTERFACE ${CMAKE_SOURCE_DIR}/tests/support)
