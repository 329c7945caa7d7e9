# The prebuilt core: what building the Python extension alone against this build's liblstmrt.a
# needs (python/prebuilt, on a machine with another Python and none of lstmrt's build
# dependencies: scripts/gpu-check). Writes <build>/lstmrt-prebuilt.txt, one `key=value` a line:
#   archive=<liblstmrt.a>
#   link=<file or library name>   what a user of the static core links after it, in order: its
#                                 private dependencies resolved to files, interface libraries
#                                 walked through (so a new dependency travels without being
#                                 listed twice)
#   fmt_include=<folder>          the folder holding fmt/, whose headers the bindings include
# scripts/gpu-check prepare turns it into the carried prebuilt/link.txt.

# Appends to the list named `out` the link items of `item` (a target, a generator expression or a
# file/name), each target once (`seen` names the list of targets walked).
function(_lstmrt_link_items item out seen)
  if(item MATCHES "^\\$<LINK_ONLY:(.*)>$")
    _lstmrt_link_items("${CMAKE_MATCH_1}" ${out} ${seen})
  elseif(item MATCHES "^\\$<BUILD_INTERFACE:(.*)>$")
    _lstmrt_link_items("${CMAKE_MATCH_1}" ${out} ${seen})
  elseif(item MATCHES "^\\$<INSTALL_INTERFACE:")
    # Not part of a link from the build tree.
  elseif(item MATCHES "^\\$<")
    message(FATAL_ERROR "lstmrt_prebuilt: cannot resolve the link item ${item} of the core")
  elseif(TARGET "${item}")
    get_target_property(aliased "${item}" ALIASED_TARGET)
    if(aliased)
      set(item "${aliased}")
    endif()
    if("${item}" IN_LIST ${seen})
      return()
    endif()
    list(APPEND ${seen} "${item}")
    get_target_property(type "${item}" TYPE)
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      list(APPEND ${out} "$<TARGET_LINKER_FILE:${item}>")
    endif()
    get_target_property(deps "${item}" INTERFACE_LINK_LIBRARIES)
    if(deps)
      foreach(dep IN LISTS deps)
        _lstmrt_link_items("${dep}" ${out} ${seen})
      endforeach()
    endif()
  elseif(NOT item STREQUAL "")
    list(APPEND ${out} "${item}")
  endif()
  set(${out} "${${out}}" PARENT_SCOPE)
  set(${seen} "${${seen}}" PARENT_SCOPE)
endfunction()

set(_lstmrt_prebuilt_links)
set(_lstmrt_prebuilt_seen lstmrt)
get_target_property(_lstmrt_core_deps lstmrt INTERFACE_LINK_LIBRARIES)
foreach(_dep IN LISTS _lstmrt_core_deps)
  _lstmrt_link_items("${_dep}" _lstmrt_prebuilt_links _lstmrt_prebuilt_seen)
endforeach()
list(TRANSFORM _lstmrt_prebuilt_links PREPEND "link=")
list(JOIN _lstmrt_prebuilt_links "\n" _lstmrt_prebuilt_links)
file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/lstmrt-prebuilt.txt CONTENT
"archive=$<TARGET_LINKER_FILE:lstmrt>
${_lstmrt_prebuilt_links}
fmt_include=$<TARGET_PROPERTY:fmt::fmt,INTERFACE_INCLUDE_DIRECTORIES>
")
