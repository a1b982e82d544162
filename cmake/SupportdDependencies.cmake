# Third-party libraries, all from Debian bookworm packages (see scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(CURL REQUIRED)
find_package(SQLiteCpp REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
include(GNUInstallDirs)
find_package(ICU REQUIRED COMPONENTS uc i18n)
find_package(Boost 1.74 REQUIRED)
find_package(OpenSSL REQUIRED)  # TLS for the IMAP IDLE watcher (Boost.Asio ssl)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)

# mimetic ships no CMake or pkg-config file.
find_path(MIMETIC_INCLUDE_DIR mimetic/mimetic.h REQUIRED)
find_library(MIMETIC_LIBRARY mimetic REQUIRED)
add_library(mimetic::mimetic UNKNOWN IMPORTED)
set_target_properties(mimetic::mimetic PROPERTIES
  IMPORTED_LOCATION ${MIMETIC_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${MIMETIC_INCLUDE_DIR})

# kainjow mustache is header-only.
find_path(KAINJOW_MUSTACHE_INCLUDE_DIR kainjow/mustache.hpp REQUIRED)
add_library(kainjow::mustache INTERFACE IMPORTED)
set_target_properties(kainjow::mustache PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES ${KAINJOW_MUSTACHE_INCLUDE_DIR})

if(SUPPORTD_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
