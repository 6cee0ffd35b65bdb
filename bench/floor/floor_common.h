/* What both kernel-floor programs share: exits that name the program and a
 * strict number reader for their options. Each program defines
 * kProgramName before including this file. */
#ifndef FOURTUPLE_BENCH_FLOOR_FLOOR_COMMON_H_
#define FOURTUPLE_BENCH_FLOOR_FLOOR_COMMON_H_

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what) {
  fprintf(stderr, "%s: %s: %s\n", kProgramName, what, strerror(errno));
  exit(1);
}

/* The whole of `text` as a number in lo..hi, or exit 2 naming `flag`. */
static long parse_number(const char *flag, const char *text, long lo, long hi) {
  char *end = NULL;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < lo || value > hi) {
    fprintf(stderr, "%s: %s expects %ld..%ld, got '%s'\n", kProgramName, flag, lo, hi, text);
    exit(2);
  }
  return value;
}

#endif /* FOURTUPLE_BENCH_FLOOR_FLOOR_COMMON_H_ */
