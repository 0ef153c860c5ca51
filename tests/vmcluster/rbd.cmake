# vm_rbd (included by CMakeLists.txt when renamed to rbd.cmake)
# (the fixtures exist only where tests/rbd and tests/glfs define them)
if(TARGET handler_rbd AND CMOCKA_FOUND)
  # tcmu_ceph_cluster: a case kills and restarts the OSD
  vmcl_test(vm_rbd rbd 420 ${CMAKE_BINARY_DIR}/tests/rbd/cluster rbd_cluster
            tcmu_ceph_cluster)
else()
  add_test(NAME vm_rbd COMMAND sh -c "echo 'SKIP: handler_rbd not built (librbd-dev, librados-dev) or cmocka missing'; exit 77")
  set_tests_properties(vm_rbd PROPERTIES LABELS "vm;cluster;vmcluster" SKIP_RETURN_CODE 77)
endif()

