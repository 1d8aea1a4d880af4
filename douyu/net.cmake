# asyncore::douyu — the socket side of the Douyu layer: DouyuClient (the tutorial's client, done
# right) and DouyuServer (the loopback simulator). Included from the root CMakeLists.txt.
if(TARGET asyncore::client AND TARGET asyncore::douyu_protocol)
  add_library(asyncore_douyu
    ${PROJECT_SOURCE_DIR}/douyu/connect_pacer.cc
    ${PROJECT_SOURCE_DIR}/douyu/douyu_client.cc
    ${PROJECT_SOURCE_DIR}/douyu/handler.cc
    ${PROJECT_SOURCE_DIR}/douyu/heartbeat_thread.cc
    ${PROJECT_SOURCE_DIR}/douyu/heartbeat_timer.cc
    ${PROJECT_SOURCE_DIR}/douyu/message_worker.cc
    ${PROJECT_SOURCE_DIR}/douyu/worker_pool.cc
    ${PROJECT_SOURCE_DIR}/douyu/douyu_server.cc
    ${PROJECT_SOURCE_DIR}/douyu/room_stream.cc
    ${PROJECT_SOURCE_DIR}/douyu/transport.cc)
  add_library(asyncore::douyu ALIAS asyncore_douyu)
  target_include_directories(asyncore_douyu PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(asyncore_douyu PUBLIC asyncore::douyu_protocol asyncore::client asyncore::core)
endif()
