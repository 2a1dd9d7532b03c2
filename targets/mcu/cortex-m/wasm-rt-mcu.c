/* The parts of wasm2c's runtime (wasm-rt.h) a seec mcu module uses, for a bare-metal target:
   linear memory is one static array (the module's memory is fixed: initial = maximum pages),
   and a trap reports itself to the host and stops. */
#include <stdarg.h>
#include <stdbool.h>
#include "semihost.h"
#include "wasm-rt.h"

#ifndef SEEC_MEMORY_PAGES
#error "define SEEC_MEMORY_PAGES: the module's memory size in 64 KiB pages"
#endif

static uint8_t linear_memory[SEEC_MEMORY_PAGES * 65536u] __attribute__((aligned(16)));
static bool initialized;
uint32_t wasm_rt_call_stack_depth;

void wasm_rt_init(void) { initialized = true; }
bool wasm_rt_is_initialized(void) { return initialized; }
void wasm_rt_free(void) {}

void wasm_rt_allocate_memory(wasm_rt_memory_t* memory, uint32_t initial_pages, uint32_t max_pages) {
  if (initial_pages != SEEC_MEMORY_PAGES || max_pages != SEEC_MEMORY_PAGES) wasm_rt_trap(WASM_RT_TRAP_OOB);
  memory->data = linear_memory;
  memory->pages = memory->max_pages = initial_pages;
  memory->size = initial_pages * 65536u;
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t* memory, uint32_t pages) {
  (void)memory;
  return pages == 0 ? SEEC_MEMORY_PAGES : UINT32_MAX;
}

void wasm_rt_free_memory(wasm_rt_memory_t* memory) { (void)memory; }

/* Function types, deduplicated by signature (call_indirect compares these ids). */
#define MAX_TYPES 64
#define MAX_ARITY 16
static struct { uint32_t params, results; wasm_rt_type_t types[MAX_ARITY]; } types[MAX_TYPES];
static uint32_t type_count;

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
  wasm_rt_type_t signature[MAX_ARITY];
  va_list args;
  va_start(args, results);
  for (uint32_t i = 0; i < params + results && i < MAX_ARITY; i++) signature[i] = (wasm_rt_type_t)va_arg(args, int);
  va_end(args);
  for (uint32_t t = 0; t < type_count; t++) {
    bool same = types[t].params == params && types[t].results == results;
    for (uint32_t i = 0; same && i < params + results && i < MAX_ARITY; i++) same = types[t].types[i] == signature[i];
    if (same) return t;
  }
  if (type_count == MAX_TYPES) wasm_rt_trap(WASM_RT_TRAP_CALL_INDIRECT);
  types[type_count].params = params;
  types[type_count].results = results;
  for (uint32_t i = 0; i < params + results && i < MAX_ARITY; i++) types[type_count].types[i] = signature[i];
  return type_count++;
}

void wasm_rt_trap(wasm_rt_trap_t trap) {
  static const char message[] = "seec: the module trapped (wasm_rt_trap_t ";
  char code = (char)('0' + (int)trap);
  host_write(message, sizeof message - 1);
  host_write(&code, 1);
  host_write(")\n", 2);
  host_exit(7);
}
