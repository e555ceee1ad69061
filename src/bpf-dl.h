/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libbpf's BTF functions, loaded with dlopen() (dlopen-util.h) by the commands that use it, not
 * linked: the only header btf-header.c, caps.c and caps-btf.c include for it. It declares one sym_
 * pointer per function used and maps each name onto its pointer, so callers keep libbpf's own
 * names; they call bpf_dl_load() at each entry point first, and touch nothing of
 * libbpf when it fails.
 *
 * btf_dump__new() was a macro choosing between two prototypes in libbpf 0.6-0.8; configure
 * requires libbpf >= 1.0, where it is a plain function, so its pointer is type-checked too.
 */
#pragma once

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "dlopen-util.h"

/* Loads libbpf; 0, or -ELIBACC/-ELIBBAD and *ret_why as dlopen_lib_load()'s. */
int bpf_dl_load(char **ret_why);

DLSYM_PROTOTYPE(btf__find_by_name_kind);
DLSYM_PROTOTYPE(btf__free);
DLSYM_PROTOTYPE(btf__name_by_offset);
DLSYM_PROTOTYPE(btf__parse);
DLSYM_PROTOTYPE(btf__type_by_id);
DLSYM_PROTOTYPE(btf__type_cnt);
DLSYM_PROTOTYPE(btf_dump__dump_type);
DLSYM_PROTOTYPE(btf_dump__free);
DLSYM_PROTOTYPE(btf_dump__new);
DLSYM_PROTOTYPE(libbpf_set_print);

#ifndef BPF_DL_NO_SHIM
#define btf__find_by_name_kind sym_btf__find_by_name_kind
#define btf__free sym_btf__free
#define btf__name_by_offset sym_btf__name_by_offset
#define btf__parse sym_btf__parse
#define btf__type_by_id sym_btf__type_by_id
#define btf__type_cnt sym_btf__type_cnt
#define btf_dump__dump_type sym_btf_dump__dump_type
#define btf_dump__free sym_btf_dump__free
#define btf_dump__new sym_btf_dump__new
#define libbpf_set_print sym_libbpf_set_print
#endif
