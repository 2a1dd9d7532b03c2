/* Greedy generation on the device: the module's step() export, one call per token, from BOS.
   Prints the text as it comes, then lines the host reads: the ids, instructions per token
   (SysTick under QEMU's -icount, calibrated in place) and how deep the stack went. */
#include <stdint.h>
#include "model.h"
#include "seec_model.h"
#include "semihost.h"

#define SYST_CSR (*(volatile uint32_t*)0xE000E010)
#define SYST_RVR (*(volatile uint32_t*)0xE000E014)
#define SYST_CVR (*(volatile uint32_t*)0xE000E018)
#define SYST_RELOAD 0xFFFFFFu

static volatile uint32_t systick_wraps;
void systick_handler(void) { systick_wraps++; }

static uint64_t ticks(void) {
  uint32_t wraps, value;
  do {
    wraps = systick_wraps;
    value = SYST_CVR;
  } while (wraps != systick_wraps);
  return (uint64_t)wraps * (SYST_RELOAD + 1) + (SYST_RELOAD - value);
}

/* A loop of exactly 2 instructions per iteration: instructions per SysTick tick. */
static uint64_t instructions_per_kilotick(void) {
  const uint32_t iterations = 1u << 20;
  uint64_t t0 = ticks();
  uint32_t n = iterations;
  __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n));
  uint64_t elapsed = ticks() - t0;
  return elapsed ? (uint64_t)iterations * 2 * 1000 / elapsed : 0;
}

static void write_text(const char* s) {
  uint32_t n = 0;
  while (s[n]) n++;
  host_write(s, n);
}

static void write_number(uint64_t v) {
  char digits[24];
  int at = 24;
  do {
    digits[--at] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  host_write(digits + at, 24 - at);
}

/* The stack below the current frame is painted, and found again after the run. */
#define STACK_PAINT 0x5EEC5EECu
extern uint32_t _stack_limit;

static void paint_stack(void) {
  uint32_t here;
  for (uint32_t* p = &_stack_limit; p < &here - 64; p++) *p = STACK_PAINT;
}

static uint32_t stack_used(void) {
  extern uint32_t _stack_top;
  uint32_t* p = &_stack_limit;
  while (*p == STACK_PAINT) p++;
  return (uint32_t)((uint8_t*)&_stack_top - (uint8_t*)p);
}

static Z_seec_model_instance_t model;
static uint32_t ids[SEEC_STEPS];

int main(void) {
  paint_stack();
  SYST_RVR = SYST_RELOAD;
  SYST_CVR = 0;
  SYST_CSR = 0x7; /* processor clock, interrupt on wrap, enabled */
  while (SYST_CVR == 0) {} /* until the first reload */
  const uint64_t per_kilotick = instructions_per_kilotick();

  wasm_rt_init();
  Z_seec_model_init_module();
  Z_seec_model_instantiate(&model);
#if SEEC_HAS_INIT
  Z_seec_modelZ_init(&model);
#endif

  uint32_t token = SEEC_BOS, count = 0;
  const uint64_t t0 = ticks();
  for (uint32_t pos = 0; pos < SEEC_STEPS && pos < SEEC_CONTEXT; pos++) {
    const uint32_t next = Z_seec_modelZ_step(&model, token, pos);
    if (next == SEEC_BOS || next == SEEC_EOS) break;
    seec_print_piece(token, next);
    ids[count++] = next;
    token = next;
  }
  const uint64_t elapsed = ticks() - t0;

  write_text("\nseec-ids:");
  for (uint32_t i = 0; i < count; i++) {
    write_text(" ");
    write_number(ids[i]);
  }
  write_text("\nseec-instructions-per-token: ");
  write_number(count ? elapsed * per_kilotick / 1000 / count : 0);
  write_text("\nseec-stack-bytes: ");
  write_number(stack_used());
  write_text("\n");
  return 0;
}
