// Forced into every rv_proto source (-include, lib/CMakeLists.txt): the
// socket-free layer must not reach Asio or Program_options, even through a
// header. Every Asio header names `namespace asio` and every Program_options
// header `namespace program_options`, so including one fails to compile with
// "attempt to use poisoned" (g++ and clang alike).
#pragma once
#pragma GCC poison asio program_options
