/* Reset: copy .data, zero .bss, enable the FPU, run main, report its status to the host. */
#include <stdint.h>
#include "semihost.h"

extern uint32_t _data_load, _data_start, _data_end, _bss_start, _bss_end, _stack_top;
int main(void);
void reset_handler(void);
void systick_handler(void);

static void fault_handler(void) {
  static const char message[] = "seec: hard fault\n";
  host_write(message, sizeof message - 1);
  host_exit(70);
}

__attribute__((section(".vectors"), used)) static const void* const vectors[16] = {
    &_stack_top, reset_handler, fault_handler, fault_handler, fault_handler, fault_handler, fault_handler,
    0, 0, 0, 0, fault_handler, fault_handler, 0, fault_handler, systick_handler,
};

void reset_handler(void) {
  for (uint32_t *src = &_data_load, *dst = &_data_start; dst < &_data_end;) *dst++ = *src++;
  for (uint32_t* dst = &_bss_start; dst < &_bss_end;) *dst++ = 0;
  /* CPACR: full access to coprocessors 10 and 11 (the single-precision FPU). */
  *(volatile uint32_t*)0xE000ED88 |= 0xFu << 20;
  __asm__ volatile("dsb\n isb");
  host_exit(main());
}
