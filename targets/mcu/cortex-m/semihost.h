/* ARM semihosting: the debugger (here QEMU, -semihosting) performs I/O for the target. */
#ifndef SEEC_SEMIHOST_H
#define SEEC_SEMIHOST_H
#include <stdint.h>

static inline int semihost(int op, const void* arg) {
  register int r0 __asm__("r0") = op;
  register const void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

enum { SYS_OPEN = 0x01, SYS_WRITE = 0x05, SYS_EXIT_EXTENDED = 0x20 };
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

/** Writes n bytes to the host's stdout (the special file ":tt" opened for writing). */
static inline void host_write(const void* bytes, uint32_t n) {
  static int handle = -1;
  if (handle < 0) {
    uint32_t open[3] = {(uint32_t)":tt", 4 /* "w" */, 3};
    handle = semihost(SYS_OPEN, open);
  }
  uint32_t args[3] = {(uint32_t)handle, (uint32_t)bytes, n};
  if (n) semihost(SYS_WRITE, args);
}

/** Ends the program; the host (QEMU) exits with the status. */
__attribute__((noreturn)) static inline void host_exit(int status) {
  uint32_t args[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
  semihost(SYS_EXIT_EXTENDED, args);
  for (;;) {}
}

#endif
