# Runs at install time (packaging/CMakeLists.txt sets UDM_UNIT_*): writes the
# systemd units with the path udmd is installed at under the prefix of this
# install (CPack's /usr, or what `cmake --install --prefix` was given) and
# installs them under that prefix.
if(IS_ABSOLUTE "${UDM_UNIT_BINDIR}")
  set(UDMD_PATH "${UDM_UNIT_BINDIR}/udmd")
else()
  set(UDMD_PATH "${CMAKE_INSTALL_PREFIX}/${UDM_UNIT_BINDIR}/udmd")
endif()
foreach(kind system user)
  configure_file("${UDM_UNIT_SOURCE_DIR}/udmd-${kind}.service.in"
                 "${UDM_UNIT_WORK_DIR}/${kind}/udmd.service" @ONLY)
  file(INSTALL "${UDM_UNIT_WORK_DIR}/${kind}/udmd.service"
       DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/${kind}")
endforeach()
