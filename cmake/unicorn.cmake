# Unicorn 2.1.x, as ci/install-deps.sh fetches it from PyPI into
# build/deps/unicorn. Debian 12's 2.0.1 cannot translate guest paging, so an
# older Unicorn is refused here with a clear message rather than found.
set(XENO_UNICORN_ROOT "${PROJECT_SOURCE_DIR}/build/deps/unicorn" CACHE PATH "Unicorn 2.1.x install (include/ and lib/)")

find_path(XENO_UNICORN_INCLUDE unicorn/unicorn.h PATHS "${XENO_UNICORN_ROOT}/include" NO_DEFAULT_PATH)
find_library(XENO_UNICORN_LIBRARY NAMES unicorn libunicorn.so.2 PATHS "${XENO_UNICORN_ROOT}/lib" NO_DEFAULT_PATH)
if(NOT XENO_UNICORN_INCLUDE OR NOT XENO_UNICORN_LIBRARY)
    message(FATAL_ERROR "Unicorn 2.1.x not found under ${XENO_UNICORN_ROOT}. Run ci/install-deps.sh "
        "(or set XENO_UNICORN_ROOT to an install with include/unicorn/unicorn.h and lib/libunicorn.so.2).")
endif()

file(STRINGS "${XENO_UNICORN_INCLUDE}/unicorn/unicorn.h" _uc_version_lines REGEX "#define UC_API_(MAJOR|MINOR|PATCH) ")
foreach(_line IN LISTS _uc_version_lines)
    if(_line MATCHES "#define UC_API_(MAJOR|MINOR|PATCH) ([0-9]+)")
        set(_uc_${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
    endif()
endforeach()
set(XENO_UNICORN_VERSION "${_uc_MAJOR}.${_uc_MINOR}.${_uc_PATCH}")
if(XENO_UNICORN_VERSION VERSION_LESS 2.1.0)
    message(FATAL_ERROR "Unicorn ${XENO_UNICORN_VERSION} at ${XENO_UNICORN_INCLUDE} is too old: Xeno needs 2.1.x "
        "(2.0.x cannot translate guest paging). Run ci/install-deps.sh to fetch 2.1.4.")
endif()
message(STATUS "Unicorn ${XENO_UNICORN_VERSION}: ${XENO_UNICORN_LIBRARY}")

add_library(unicorn SHARED IMPORTED GLOBAL)
set_target_properties(unicorn PROPERTIES IMPORTED_LOCATION "${XENO_UNICORN_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${XENO_UNICORN_INCLUDE}")
