# Installation: `cmake --install <build> --prefix P` puts
#   P/include/asyncore/<core|client|douyu/*|redis|web>/*.h
#                                                        the headers, under their source paths, so
#                                                        a consumer's includes read as in-tree
#                                                        ("core/dispatcher.h", ...)
#   P/lib/libasyncore_*.a                                 the libraries (static unless BUILD_SHARED_LIBS)
#   P/lib/cmake/asyncore/                                 find_package(asyncore): asyncore::core,
#                                                        ::client, ::douyu_protocol, ::douyu,
#                                                        ::douyu_simulator, ::redis, ::web
#   P/lib/pkgconfig/asyncore-*.pc                         the same libraries for pkg-config
# Nothing else (samples, tests, benchmarks, fuzzers) is installed. The include directory itself
# (include/asyncore on install, the source root in the tree) is set by each library through
# ASYNCORE_INCLUDE_DIRS (root CMakeLists.txt). C++20 is required of consumers: the CMake targets
# carry cxx_std_20; pkg-config users pass -std=c++20 themselves.
include(CMakePackageConfigHelpers)

set(ASYNCORE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/asyncore)
set(_asyncore_libraries core client douyu_protocol douyu douyu_simulator redis web)

foreach(lib IN LISTS _asyncore_libraries)
  # asyncore_core is exported as asyncore::core, the name the tree's ALIAS targets use.
  set_target_properties(asyncore_${lib} PROPERTIES EXPORT_NAME ${lib})
  get_target_property(_features asyncore_${lib} INTERFACE_COMPILE_FEATURES)
  if(NOT "cxx_std_20" IN_LIST _features)
    target_compile_features(asyncore_${lib} PUBLIC cxx_std_20)
  endif()
endforeach()
list(TRANSFORM _asyncore_libraries PREPEND asyncore_ OUTPUT_VARIABLE _asyncore_targets)
install(TARGETS ${_asyncore_targets} EXPORT asyncoreTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Every header of the libraries' folders (all of them are public; thread_check.h is harmless).
foreach(dir core client douyu redis web)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/asyncore
          FILES_MATCHING PATTERN "*.h")
endforeach()

# The wslay target asyncore::wslay stands for (an ALIAS: the export names the real one).
get_target_property(ASYNCORE_WSLAY_TARGET asyncore::wslay ALIASED_TARGET)
install(EXPORT asyncoreTargets NAMESPACE asyncore:: DESTINATION ${ASYNCORE_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/asyncoreConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/asyncoreConfig.cmake
                              INSTALL_DESTINATION ${ASYNCORE_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/asyncoreConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/asyncoreConfig.cmake
              ${PROJECT_BINARY_DIR}/asyncoreConfigVersion.cmake
        DESTINATION ${ASYNCORE_CMAKE_DIR})

# pkg-config (cmake/asyncore.pc.in): asyncore-<library>.pc, library names with '-' for '_'.
# Relocatable (prefix=${pcfiledir}/../.., so --prefix at install time works). With static libraries
# (the default) a plain `pkg-config --libs` must link, so every third-party dependency goes in
# Requires/Libs; with shared ones they move to Requires.private/Libs.private. wslay has no .pc on
# Debian 12 (only a CMake config): then it is named in Libs (-lwslay).
file(RELATIVE_PATH ASYNCORE_PC_PREFIX /_/${CMAKE_INSTALL_LIBDIR}/pkgconfig /_)
string(REGEX REPLACE "/$" "" ASYNCORE_PC_PREFIX "${ASYNCORE_PC_PREFIX}")
set(ASYNCORE_PC_PREFIX "\${pcfiledir}/${ASYNCORE_PC_PREFIX}")
if(ASYNCORE_WSLAY_TARGET STREQUAL "PkgConfig::WSLAY")
  set(_asyncore_wslay_pc libwslay)
  set(_asyncore_wslay_lib "")
else()
  set(_asyncore_wslay_pc "")
  set(_asyncore_wslay_lib -lwslay)
endif()
# asyncore_pkgconfig(<library> <description> <asyncore .pc files> <third-party .pc files> <libs>)
function(asyncore_pkgconfig lib description requires third_party libs)
  string(REPLACE _ - PC_NAME asyncore-${lib})
  set(PC_DESCRIPTION "${description}")
  set(PC_LIB asyncore_${lib})
  if(BUILD_SHARED_LIBS)
    set(PC_REQUIRES "${requires}")
    set(PC_REQUIRES_PRIVATE "${third_party}")
    set(PC_LIBS "")
    set(PC_LIBS_PRIVATE "${libs}")
  else()
    string(STRIP "${requires} ${third_party}" PC_REQUIRES)
    set(PC_REQUIRES_PRIVATE "")
    set(PC_LIBS "${libs}")
    set(PC_LIBS_PRIVATE "")
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/asyncore.pc.in
                 ${PROJECT_BINARY_DIR}/pkgconfig/${PC_NAME}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${PC_NAME}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()
asyncore_pkgconfig(core "asyncore for C++: Loop, Dispatcher, sockets, signals, TLS (libevent)"
                   "" "libevent_core libevent_pthreads libevent_extra libglog openssl" -pthread)
asyncore_pkgconfig(client "asyncore for C++: BufferedDispatcher, AsyncChat, SocketClient, WebSocket"
                   asyncore-core "libcrypto ${_asyncore_wslay_pc}" "${_asyncore_wslay_lib}")
asyncore_pkgconfig(douyu_protocol "asyncore for C++: the Douyu wire protocol (no I/O)" "" "" "")
asyncore_pkgconfig(douyu "asyncore for C++: DouyuClient, the Douyu barrage client"
                   "asyncore-douyu-protocol asyncore-client asyncore-core" "" "")
asyncore_pkgconfig(douyu_simulator "asyncore for C++: DouyuServer, the loopback Douyu simulator"
                   asyncore-douyu "" "")
asyncore_pkgconfig(redis "asyncore for C++: RedisStreamSink, Douyu messages into Redis Streams"
                   "asyncore-douyu-protocol asyncore-core" hiredis "")
# http_parser (Debian's libhttp-parser-dev) has no .pc file: named in Libs.
asyncore_pkgconfig(web "asyncore for C++: HttpServer and Server-Sent Events (EventStream)"
                   "asyncore-client asyncore-core" "" -lhttp_parser)
