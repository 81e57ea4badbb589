# Installing and the Debian package. `cmake --install` puts the program, its presets, the
# desktop entry, the icon, the manual and the man page under the prefix; `cpack -G DEB` in the
# build folder (or `bash app/bootstrap.sh package`) makes checkpointlab_VERSION_amd64.deb of
# the same files under /usr, with the copyright and changelog Debian wants and dependencies
# worked out by dpkg-shlibdeps from what the program links. CUDA is not one of them: the CUDA
# runtime is linked statically and cuBLAS loaded at run time (engine/CMakeLists.txt), so the
# package runs on the CPU anywhere and on a GPU where NVIDIA's driver and cuBLAS are installed.
include(GNUInstallDirs)
set(CKPT_DOC_DIR ${CMAKE_INSTALL_DATADIR}/doc/checkpointlab)

# checkpointlab(1), from the program's --help pages (app/man_page.cmake). Not in the sanitizer
# builds, whose program would run under ASan to write it.
if(NOT CKPT_SANITIZE AND NOT CKPT_FUZZ)
  set(CKPT_MAN_PAGE ${PROJECT_BINARY_DIR}/app/checkpointlab.1.gz)
  add_custom_command(OUTPUT ${CKPT_MAN_PAGE}
    COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:checkpointlab> -DOUT=${CKPT_MAN_PAGE}
            -DVERSION=${PROJECT_VERSION} -P ${PROJECT_SOURCE_DIR}/app/man_page.cmake
    DEPENDS checkpointlab ${PROJECT_SOURCE_DIR}/app/man_page.cmake
    COMMENT "Writing checkpointlab.1 from checkpointlab --help"
    VERBATIM)
  add_custom_target(checkpointlab_man ALL DEPENDS ${CKPT_MAN_PAGE})
  install(FILES ${CKPT_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

# The manual as Markdown files beside the program's copy (Help › Manual), the copyright, and a
# changelog naming this version (a native package's changelog.gz).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/resources/manual/ DESTINATION ${CKPT_DOC_DIR}/manual)
install(FILES ${PROJECT_SOURCE_DIR}/resources/debian/copyright DESTINATION ${CKPT_DOC_DIR})
# The one deliberate exception to Debian's rules, with its reason: the RUNPATH to the OpenMP
# build of OpenBLAS (engine/CMakeLists.txt).
install(FILES ${PROJECT_SOURCE_DIR}/resources/debian/lintian-overrides
        DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME checkpointlab)
# The project has no mailing address yet: a reserved documentation domain says so honestly.
set(CKPT_MAINTAINER "CheckpointLab developers <checkpointlab@example.org>")
string(TIMESTAMP CKPT_CHANGELOG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE ${PROJECT_BINARY_DIR}/app/changelog
     "checkpointlab (${PROJECT_VERSION}) unstable; urgency=medium\n\n"
     "  * CheckpointLab ${PROJECT_VERSION}, packaged from its source tree by CPack.\n\n"
     " -- ${CKPT_MAINTAINER}  ${CKPT_CHANGELOG_DATE}\n")
execute_process(COMMAND gzip -9nf ${PROJECT_BINARY_DIR}/app/changelog RESULT_VARIABLE CKPT_GZIP)
if(CKPT_GZIP EQUAL 0)
  install(FILES ${PROJECT_BINARY_DIR}/app/changelog.gz DESTINATION ${CKPT_DOC_DIR})
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME checkpointlab)
set(CPACK_PACKAGE_VENDOR "The CheckpointLab developers")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${CKPT_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "laboratory for activation (gradient) checkpointing")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
    "CheckpointLab runs real training steps (forward, loss, backward, optimizer)\n"
    "of a layer stack and shows, exactly and live, what every byte of memory does\n"
    "and what recomputation costs when blocks are checkpointed: the memory\n"
    "timeline by category, what each block keeps or recomputes, the prediction\n"
    "beside the measurement, and a plan that fits a memory budget. The same\n"
    "engine answers on the command line (checkpointlab run, plan, import).\n"
    "\n"
    "It runs on the CPU with OpenBLAS. CUDA is optional: where NVIDIA's driver\n"
    "and cuBLAS 13 are installed it also runs on NVIDIA GPUs, and where they are\n"
    "not, --device cuda says which is missing.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # checkpointlab_VERSION_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Qt 6, QCustomPlot, OpenMP and the rest from what the program links; besides them the OpenMP
# build of OpenBLAS the program's RUNPATH names (any libopenblas0 would do, slower), and the
# Qt platform plugins a window needs.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0-openmp, qt6-qpa-plugins")
include(CPack)
