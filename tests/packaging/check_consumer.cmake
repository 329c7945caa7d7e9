# cmake -DLSTMRT_BUILD_DIR=... -DLSTMRT_SOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=... -P check_consumer.cmake
# Install -> configure the consumer with CMAKE_PREFIX_PATH = the prefix -> build -> run -> check.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

step("cmake --install" ${CMAKE_COMMAND} --install ${LSTMRT_BUILD_DIR} --prefix ${prefix})
foreach(f include/lstmrt/lstmrt.hpp bin/lstmrt lib/cmake/lstmrt/lstmrtConfig.cmake
          lib/liblstmrt.a lib/liblstmrt_gpu.so)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "cmake --install did not install ${f}")
  endif()
endforeach()

step("configuring examples/consumer" ${CMAKE_COMMAND} -S ${LSTMRT_SOURCE_DIR}/examples/consumer
  -B ${WORK_DIR}/build -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix})
step("building examples/consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
step("running lstmrt_consumer" ${WORK_DIR}/build/lstmrt_consumer)
message(STATUS "${step_output}")
foreach(expected "backend " "y (T=5, N=2, 8):" "h_n (4, N=2, H=4):" "layer 1 dir 1 n=1:")
  string(FIND "${step_output}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "lstmrt_consumer output lacks '${expected}'")
  endif()
endforeach()
# Neither the application nor the installed CLI links cuDNN or cuBLAS: the core loads the GPU
# module (and them) at run time.
foreach(binary ${WORK_DIR}/build/lstmrt_consumer ${prefix}/bin/lstmrt)
  step("readelf -d ${binary}" readelf -d ${binary})
  if(step_output MATCHES "lib(cudnn|cublas|cublasLt|cudart)[^ ]*\\.so")
    message(FATAL_ERROR "${binary} links ${CMAKE_MATCH_0}:\n${step_output}")
  endif()
endforeach()
# ... and finds the installed GPU module at run time: the application through the RUNPATH the
# package gives it, the CLI beside its own folder.
step("readelf -d lstmrt_consumer" readelf -d ${WORK_DIR}/build/lstmrt_consumer)
string(FIND "${step_output}" "${prefix}/lib" at)
if(at EQUAL -1)
  message(FATAL_ERROR "lstmrt_consumer has no RUNPATH to ${prefix}/lib:\n${step_output}")
endif()
step("lstmrt info (installed)" ${prefix}/bin/lstmrt info)
if(NOT step_output MATCHES "GPU module: ${prefix}/lib/liblstmrt_gpu.so")
  message(FATAL_ERROR "the installed lstmrt did not load ${prefix}/lib/liblstmrt_gpu.so:\n${step_output}")
endif()
# The installed CLI runs too.
step("running the installed lstmrt" ${prefix}/bin/lstmrt --help)
