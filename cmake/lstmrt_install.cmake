# Installation and the CMake package: `cmake --install build --prefix P` puts the public headers in
# P/include/lstmrt, the static libraries in P/lib, the `lstmrt` (and `lstmrt-bench`) binaries in
# P/bin and the package files in P/lib/cmake/lstmrt, so that an application does
#   find_package(lstmrt REQUIRED)                # CMAKE_PREFIX_PATH=P
#   target_link_libraries(app PRIVATE lstmrt::lstmrt)
# lstmrt is a static library: its private dependencies (fmt, libzip, ONNX/protobuf, HDF5, libdl)
# are part of its link interface, and lstmrtConfig.cmake finds them again. It links nothing of
# CUDA: the GPU backends are the module liblstmrt_gpu.so, installed beside it, which the core
# finds at run time (lstmrtConfig.cmake gives applications a RUNPATH to that folder).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(LSTMRT_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/lstmrt)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/lstmrt DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")

install(TARGETS lstmrt EXPORT lstmrtTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT lstmrtTargets NAMESPACE lstmrt:: DESTINATION ${LSTMRT_CMAKE_INSTALL_DIR})
install(TARGETS lstmrt_gpu_module LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

# The command-line tools (the bench target exists only when bench/ is built).
# Their RUNPATH leads the core to the installed module (also found from the binary's own folder).
file(RELATIVE_PATH _lstmrt_bin_to_lib ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
set_target_properties(lstmrt_cli PROPERTIES INSTALL_RPATH "$ORIGIN/${_lstmrt_bin_to_lib}")
install(TARGETS lstmrt_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(_bench_target lstmrt_bench lstmrt-bench)
  if(TARGET ${_bench_target})
    set_target_properties(${_bench_target} PROPERTIES INSTALL_RPATH "$ORIGIN/${_lstmrt_bin_to_lib}")
    install(TARGETS ${_bench_target} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/lstmrtConfig.cmake.in
  ${PROJECT_BINARY_DIR}/lstmrtConfig.cmake INSTALL_DESTINATION ${LSTMRT_CMAKE_INSTALL_DIR}
  PATH_VARS CMAKE_INSTALL_LIBDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/lstmrtConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/lstmrtConfig.cmake ${PROJECT_BINARY_DIR}/lstmrtConfigVersion.cmake
  DESTINATION ${LSTMRT_CMAKE_INSTALL_DIR})
