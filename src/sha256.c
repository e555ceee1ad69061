/* SPDX-License-Identifier: GPL-2.0-or-later */
/* placeholder: implementation in progress */
#include "sha256.h"
