// thread_check.h — loop-thread affinity checks for the loop-only entry points of Loop and
// Dispatcher (internal to core/).
//
// The rule: while loop() runs on thread T, a loop-only method must be called on T. While no
// loop() runs, any single thread may use the Loop (tests construct on one thread, run the loop on
// another and destroy after joining it). A violation is a LOG(FATAL) naming the method and both
// threads.
//
// Compiled in when NDEBUG is not defined, or when ASYNCORE_THREAD_CHECKS is defined (the root
// CMakeLists.txt does that for the sanitizer builds, where RelWithDebInfo defines NDEBUG).
#pragma once

#if !defined(NDEBUG) || defined(ASYNCORE_THREAD_CHECKS)
#define ASYNCORE_THREAD_CHECKS_ON 1
#define ASYNCORE_CHECK_LOOP_THREAD(loop, method) (loop).check_loop_thread(method)
#else
#define ASYNCORE_THREAD_CHECKS_ON 0
#define ASYNCORE_CHECK_LOOP_THREAD(loop, method) ((void)0)
#endif
