# supportd::mail_servers: the header-only C++ side of mailservers.py (Dovecot + SMTP sink).
# Include this file from a test CMakeLists.txt, then link the target:
#   include(${PROJECT_SOURCE_DIR}/tests/harness/harness.cmake)
#   supportd_test(test_x SOURCES ... LIBS ... supportd::mail_servers LABELS integration)
if(NOT TARGET supportd_mail_servers)
  add_library(supportd_mail_servers INTERFACE)
  add_library(supportd::mail_servers ALIAS supportd_mail_servers)
  target_include_directories(supportd_mail_servers INTERFACE ${CMAKE_CURRENT_LIST_DIR}/..)
  target_compile_definitions(supportd_mail_servers INTERFACE
    SUPPORTD_MAILSERVERS_PY="${CMAKE_CURRENT_LIST_DIR}/mailservers.py"
    SUPPORTD_HARNESS_PYTHON="/usr/bin/python3")
endif()
