/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libbpf's function pointers and their loader (bpf-dl.h):
 * the one place that opens libbpf.
 */
#define BPF_DL_NO_SHIM 1
#include "bpf-dl.h"
#include "btf-header.h"

DLSYM_DEFINE(btf__find_by_name_kind);
DLSYM_DEFINE(btf__free);
DLSYM_DEFINE(btf__name_by_offset);
DLSYM_DEFINE(btf__parse);
DLSYM_DEFINE(btf__type_by_id);
DLSYM_DEFINE(btf__type_cnt);
DLSYM_DEFINE(btf_dump__dump_type);
DLSYM_DEFINE(btf_dump__free);
DLSYM_DEFINE(btf_dump__new);
DLSYM_DEFINE(libbpf_set_print);

static struct dlopen_lib bpf_dl_lib = {
	.soname = KTS_SONAME_BPF,
	.name = "libbpf",
	.purpose = "to read BTF",
	.install = "Debian libbpf1, Fedora libbpf, Arch libbpf",
};

int bpf_dl_load(char **ret_why)
{
	return dlopen_lib_load(&bpf_dl_lib, ret_why,
			       DLSYM_ARG(btf__find_by_name_kind),
			       DLSYM_ARG(btf__free),
			       DLSYM_ARG(btf__name_by_offset),
			       DLSYM_ARG(btf__parse),
			       DLSYM_ARG(btf__type_by_id),
			       DLSYM_ARG(btf__type_cnt),
			       DLSYM_ARG(btf_dump__dump_type),
			       DLSYM_ARG(btf_dump__free),
			       DLSYM_ARG(btf_dump__new),
			       DLSYM_ARG(libbpf_set_print),
			       NULL);
}
