/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * vmlinux.h of a cache entry (DESIGN §5 "Scheduler kit"): the C declarations of every
 * type in a kernel's BTF, the header a BPF scheduler compiles against, made with
 * libbpf's btf_dump API (not by running bpftool). Only btf-header.c includes <bpf/...> headers
 * besides caps.c.
 *
 * The output is what `bpftool btf dump file F format c` writes, with its guard and its
 * preserve_access_index pragma around the types:
 *   #ifndef __VMLINUX_H__ / #define __VMLINUX_H__
 *   #ifndef BPF_NO_PRESERVE_ACCESS_INDEX
 *   #pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
 *   #endif
 *   ... every type id 1..n-1, dumped in order ...
 *   #ifndef BPF_NO_PRESERVE_ACCESS_INDEX
 *   #pragma clang attribute pop
 *   #endif
 *   #endif / * __VMLINUX_H__ * /
 * It is not byte-identical to bpftool's: libbpf 1.1 writes "()" where bpftool 7 writes
 * "(void)" and one-byte enums with a mode(byte) attribute; both compile the same.
 */

/*
 * Writes the header for the BTF of in (an ELF file with a .BTF section, such as the
 * stripped vmlinux, or a raw BTF blob: libbpf's btf__parse() tells them apart) to out:
 * a temporary file in out's directory, then renamed; nothing is left at out or beside it
 * on failure. Errors, with *ret_why (may be NULL) naming the file:
 *   -ENODATA  in has no BTF ("'F' has no .BTF section: the kernel was built without
 *             CONFIG_DEBUG_INFO_BTF")
 *   -EBADMSG  the BTF does not parse
 *   -ENOSPC, -EIO, ...  writing out failed
 */
int btf_header_write(const char *in, const char *out, char **ret_why);

/*
 * For caps.c, the other libbpf user: the BTF of in parsed with the errors above (-ENODATA,
 * -EBADMSG, -ELIBACC/-ELIBBAD when libbpf cannot be loaded (bpf-dl.h), or the -errno of
 * reading in), named in *ret_why; free it with btf__free(). libbpf's own messages go to
 * log_debug (btf_header_libbpf_log(), done once per process, only once libbpf is loaded).
 */
struct btf;
int btf_header_open(const char *in, struct btf **ret, char **ret_why);
void btf_header_libbpf_log(void);

/* Loads libbpf (bpf-dl.c; btf_header_open() does it): 0, or -ELIBACC/-ELIBBAD and *ret_why. */
int bpf_dl_load(char **ret_why);
