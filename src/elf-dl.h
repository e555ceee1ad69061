/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libelf, loaded with dlopen() (dlopen-util.h) by the commands that use it, not
 * linked: the only header strip.c and caps-btf.c include for it. It declares one sym_
 * pointer per function used and maps each name onto its pointer, so callers keep libelf's own
 * names; they call elf_dl_load() at each entry point first, and touch nothing of
 * libelf when it fails.
 */
#pragma once

#include <gelf.h>
#include <libelf.h>
#include "dlopen-util.h"

/* Loads libelf; 0, or -ELIBACC/-ELIBBAD and *ret_why as dlopen_lib_load()'s. */
int elf_dl_load(char **ret_why);

DLSYM_PROTOTYPE(elf_begin);
DLSYM_PROTOTYPE(elf_end);
DLSYM_PROTOTYPE(elf_errmsg);
DLSYM_PROTOTYPE(elf_flagelf);
DLSYM_PROTOTYPE(elf_getdata);
DLSYM_PROTOTYPE(elf_getphdrnum);
DLSYM_PROTOTYPE(elf_getscn);
DLSYM_PROTOTYPE(elf_getshdrnum);
DLSYM_PROTOTYPE(elf_getshdrstrndx);
DLSYM_PROTOTYPE(elf_kind);
DLSYM_PROTOTYPE(elf_ndxscn);
DLSYM_PROTOTYPE(elf_newdata);
DLSYM_PROTOTYPE(elf_newscn);
DLSYM_PROTOTYPE(elf_nextscn);
DLSYM_PROTOTYPE(elf_rawdata);
DLSYM_PROTOTYPE(elf_strptr);
DLSYM_PROTOTYPE(elf_update);
DLSYM_PROTOTYPE(elf_version);
DLSYM_PROTOTYPE(gelf_fsize);
DLSYM_PROTOTYPE(gelf_getclass);
DLSYM_PROTOTYPE(gelf_getehdr);
DLSYM_PROTOTYPE(gelf_getphdr);
DLSYM_PROTOTYPE(gelf_getshdr);
DLSYM_PROTOTYPE(gelf_getsym);
DLSYM_PROTOTYPE(gelf_getsymshndx);
DLSYM_PROTOTYPE(gelf_newehdr);
DLSYM_PROTOTYPE(gelf_newphdr);
DLSYM_PROTOTYPE(gelf_update_ehdr);
DLSYM_PROTOTYPE(gelf_update_phdr);
DLSYM_PROTOTYPE(gelf_update_shdr);

#ifndef ELF_DL_NO_SHIM
#define elf_begin sym_elf_begin
#define elf_end sym_elf_end
#define elf_errmsg sym_elf_errmsg
#define elf_flagelf sym_elf_flagelf
#define elf_getdata sym_elf_getdata
#define elf_getphdrnum sym_elf_getphdrnum
#define elf_getscn sym_elf_getscn
#define elf_getshdrnum sym_elf_getshdrnum
#define elf_getshdrstrndx sym_elf_getshdrstrndx
#define elf_kind sym_elf_kind
#define elf_ndxscn sym_elf_ndxscn
#define elf_newdata sym_elf_newdata
#define elf_newscn sym_elf_newscn
#define elf_nextscn sym_elf_nextscn
#define elf_rawdata sym_elf_rawdata
#define elf_strptr sym_elf_strptr
#define elf_update sym_elf_update
#define elf_version sym_elf_version
#define gelf_fsize sym_gelf_fsize
#define gelf_getclass sym_gelf_getclass
#define gelf_getehdr sym_gelf_getehdr
#define gelf_getphdr sym_gelf_getphdr
#define gelf_getshdr sym_gelf_getshdr
#define gelf_getsym sym_gelf_getsym
#define gelf_getsymshndx sym_gelf_getsymshndx
#define gelf_newehdr sym_gelf_newehdr
#define gelf_newphdr sym_gelf_newphdr
#define gelf_update_ehdr sym_gelf_update_ehdr
#define gelf_update_phdr sym_gelf_update_phdr
#define gelf_update_shdr sym_gelf_update_shdr
#endif
