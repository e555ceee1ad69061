#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# The fake tree's compile_commands.json generator, called as the kernel's
# scripts/clang-tools/gen_compile_commands.py is (-a AR -o OUT ARCHIVE...): each member of
# each thin archive has a .NAME.cmd file whose first line is kbuild's
# "savedcmd_X.o := COMMAND... FILE.c"; one entry per such line, sorted by file.
# FAKE_GEN_FAIL=1 makes it fail; FAKE_GEN_SLEEP=S sleeps S seconds first.
import argparse
import json
import os
import re
import subprocess
import sys
import time

line_re = re.compile(r'^(saved)?cmd_[^ ]*\.o := (?P<prefix>.* )(?P<file>[^ ]*\.[cS]) *(;|$)')
p = argparse.ArgumentParser()
p.add_argument('-a', '--ar', default='llvm-ar')
p.add_argument('-o', '--output', default='compile_commands.json')
p.add_argument('paths', nargs='*')
args = p.parse_args()
time.sleep(float(os.environ.get('FAKE_GEN_SLEEP', '0')))
if os.environ.get('FAKE_GEN_FAIL'):
    sys.exit('gen_compile_commands.py: FAKE_GEN_FAIL is set')
root = os.path.realpath('.')
entries = []
for archive in args.paths:
    if not archive.endswith('.a'):
        sys.exit('{}: unknown file type'.format(archive))
    for member in subprocess.check_output([args.ar, '-t', archive]).decode().split():
        d, base = os.path.split(member)
        with open(os.path.join(d, '.' + base + '.cmd')) as f:
            m = line_re.match(f.readline())
        if m:
            entries.append({'directory': root,
                            'file': os.path.realpath(os.path.join(root, m.group('file'))),
                            'command': m.group('prefix') + m.group('file')})
with open(args.output, 'wt') as f:
    json.dump(sorted(entries, key=lambda x: x['file']), f, indent=2, sort_keys=True)
