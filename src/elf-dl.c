/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libelf's function pointers and their loader (elf-dl.h):
 * the one place that opens libelf.
 */
#define ELF_DL_NO_SHIM 1
#include "elf-dl.h"
#include "strip.h"

DLSYM_DEFINE(elf_begin);
DLSYM_DEFINE(elf_end);
DLSYM_DEFINE(elf_errmsg);
DLSYM_DEFINE(elf_flagelf);
DLSYM_DEFINE(elf_getdata);
DLSYM_DEFINE(elf_getphdrnum);
DLSYM_DEFINE(elf_getscn);
DLSYM_DEFINE(elf_getshdrnum);
DLSYM_DEFINE(elf_getshdrstrndx);
DLSYM_DEFINE(elf_kind);
DLSYM_DEFINE(elf_ndxscn);
DLSYM_DEFINE(elf_newdata);
DLSYM_DEFINE(elf_newscn);
DLSYM_DEFINE(elf_nextscn);
DLSYM_DEFINE(elf_rawdata);
DLSYM_DEFINE(elf_strptr);
DLSYM_DEFINE(elf_update);
DLSYM_DEFINE(elf_version);
DLSYM_DEFINE(gelf_fsize);
DLSYM_DEFINE(gelf_getclass);
DLSYM_DEFINE(gelf_getehdr);
DLSYM_DEFINE(gelf_getphdr);
DLSYM_DEFINE(gelf_getshdr);
DLSYM_DEFINE(gelf_getsym);
DLSYM_DEFINE(gelf_getsymshndx);
DLSYM_DEFINE(gelf_newehdr);
DLSYM_DEFINE(gelf_newphdr);
DLSYM_DEFINE(gelf_update_ehdr);
DLSYM_DEFINE(gelf_update_phdr);
DLSYM_DEFINE(gelf_update_shdr);

static struct dlopen_lib elf_dl_lib = {
	.soname = KTS_SONAME_ELF,
	.name = "libelf",
	.purpose = "to read and write ELF files",
	.install = "Debian libelf1, Fedora elfutils-libelf, Arch libelf",
};

int elf_dl_load(char **ret_why)
{
	return dlopen_lib_load(&elf_dl_lib, ret_why,
			       DLSYM_ARG(elf_begin),
			       DLSYM_ARG(elf_end),
			       DLSYM_ARG(elf_errmsg),
			       DLSYM_ARG(elf_flagelf),
			       DLSYM_ARG(elf_getdata),
			       DLSYM_ARG(elf_getphdrnum),
			       DLSYM_ARG(elf_getscn),
			       DLSYM_ARG(elf_getshdrnum),
			       DLSYM_ARG(elf_getshdrstrndx),
			       DLSYM_ARG(elf_kind),
			       DLSYM_ARG(elf_ndxscn),
			       DLSYM_ARG(elf_newdata),
			       DLSYM_ARG(elf_newscn),
			       DLSYM_ARG(elf_nextscn),
			       DLSYM_ARG(elf_rawdata),
			       DLSYM_ARG(elf_strptr),
			       DLSYM_ARG(elf_update),
			       DLSYM_ARG(elf_version),
			       DLSYM_ARG(gelf_fsize),
			       DLSYM_ARG(gelf_getclass),
			       DLSYM_ARG(gelf_getehdr),
			       DLSYM_ARG(gelf_getphdr),
			       DLSYM_ARG(gelf_getshdr),
			       DLSYM_ARG(gelf_getsym),
			       DLSYM_ARG(gelf_getsymshndx),
			       DLSYM_ARG(gelf_newehdr),
			       DLSYM_ARG(gelf_newphdr),
			       DLSYM_ARG(gelf_update_ehdr),
			       DLSYM_ARG(gelf_update_phdr),
			       DLSYM_ARG(gelf_update_shdr),
			       NULL);
}
