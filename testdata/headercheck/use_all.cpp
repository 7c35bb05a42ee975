// use_all.cpp -- compiles use_all.c as C++11: awake.h must work from C++
// (inside its extern "C" block) with -Wall -Wextra -Werror -pedantic.
#include "use_all.c"
