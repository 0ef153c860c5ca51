# vm_glfs (included by CMakeLists.txt when renamed to glfs.cmake)
if(TARGET handler_glfs AND CMOCKA_FOUND)
  vmcl_test(vm_glfs glfs 300 ${CMAKE_BINARY_DIR}/tests/glfs/cluster glfs_cluster
            glusterd)
else()
  add_test(NAME vm_glfs COMMAND sh -c "echo 'SKIP: handler_glfs not built (libglusterfs-dev) or cmocka missing'; exit 77")
  set_tests_properties(vm_glfs PROPERTIES LABELS "vm;cluster;vmcluster" SKIP_RETURN_CODE 77)
endif()
