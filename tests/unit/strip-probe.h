/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The probe ELF files the strip tests work on, made once per test program in a mkdtemp()
 * directory (strip-probe.c), and the helpers that read them with libelf and readelf.
 */
#pragma once

#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

struct fixture {
	char dir[128];
	char prog[256];    /* linked with -g, plus an allocated fake .BTF: the "vmlinux" */
	char obj[256];     /* relocatable object with -g, plus a fake .BTF */
	char realbtf[256]; /* linked, with a pahole-made .BTF; empty when pahole is missing */
	char obj32[256];   /* obj converted to ELFCLASS32 (x32); empty if objcopy cannot */
	bool have_bpftool;
};

struct elf_file {
	int fd;
	Elf *elf;
	size_t shstrndx;
};

/* cmocka group setup and teardown: *state is the struct fixture. */
int strip_probe_setup(void **state);
int strip_probe_teardown(void **state);

_printf_(1, 2) int run(const char *fmt, ...);
void write_bytes(const char *path, const void *buf, size_t n);
char *read_all(const char *path, size_t *ret_size);
bool exists(const char *path);
uint64_t file_size(const char *path);
unsigned hidden_entries(const char *dir);
void path_in(const struct fixture *fx, const char *name, char *buf, size_t size);
void elf_file_open(struct elf_file *ef, const char *path);
void elf_file_close(struct elf_file *ef);
const char *scn_name(const struct elf_file *ef, Elf_Scn *scn);
Elf_Scn *find_scn(const struct elf_file *ef, const char *name);
GElf_Shdr shdr_of(const struct elf_file *ef, const char *name);
void assert_readelf_clean(const struct fixture *fx, const char *opts, const char *path);
Elf64_Shdr *raw_shdr(const struct fixture *fx, char *bytes, const char *name);
void strip_prog(const struct fixture *fx, const char *name, char *out, size_t size);
