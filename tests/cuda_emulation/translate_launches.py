#!/usr/bin/env python3
"""The CUDA emulation's one source change: copies a .cu file for g++, with every launch
`kernel<<<grid, block, shared, stream>>>(args)` written as
`::fcam_emu::launcher("kernel", fibers, [](const auto&... a) { kernel(a...); }, grid, block,
shared, stream)(args)` (cuda_runtime.h): the lambda lets a kernel template deduce its arguments.
`fibers` is false when neither the file nor what it includes from its folder synchronises
threads (no __syncthreads, shuffle or ballot): its kernels' threads then run as plain calls,
several times faster than fibers. Line numbers are kept (a #line names the original file), so
diagnostics point at cuda/.

    translate_launches.py <input.cu> <output.cpp>
"""
import os
import re
import sys

SYNCHRONISATION = re.compile(r'__syncthreads|__syncwarp|__shfl\w*_sync|__ballot_sync|__any_sync|__all_sync')
LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)


def synchronises(path, seen=None):
    """Whether the file at `path`, or a quoted include found beside it, names a synchronising call."""
    seen = set() if seen is None else seen
    if path in seen or not os.path.exists(path):
        return False
    seen.add(path)
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if SYNCHRONISATION.search(text):
        return True
    folder = os.path.dirname(path)
    return any(synchronises(os.path.join(folder, name), seen) for name in LOCAL_INCLUDE.findall(text))


def kernel_start(text, end):
    """Index where the kernel expression ending before `end` begins: a (qualified) name,
    optionally followed by template arguments in angle brackets."""
    i = end
    while i > 0 and text[i - 1].isspace():
        i -= 1
    if i > 0 and text[i - 1] == '>':  # template arguments: walk back to the matching '<'
        depth = 0
        while i > 0:
            i -= 1
            if text[i] == '>':
                depth += 1
            elif text[i] == '<':
                depth -= 1
                if depth == 0:
                    break
        if depth != 0:
            raise ValueError('unbalanced template arguments before <<<')
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] in '_:'):
        i -= 1
    return i


def translate(text, fibers):
    out, pos = [], 0
    while True:
        open_at = text.find('<<<', pos)
        if open_at < 0:
            out.append(text[pos:])
            return ''.join(out)
        close_at = text.find('>>>', open_at)
        if close_at < 0:
            raise ValueError('<<< without >>>')
        start = kernel_start(text, open_at)
        kernel = text[start:open_at].strip()
        if not kernel:
            raise ValueError('no kernel name before <<<')
        config = text[open_at + 3:close_at]
        out.append(text[pos:start])
        out.append('::fcam_emu::launcher("%s", %s, [](const auto&... a) { %s(a...); }, %s)'
                   % (kernel, 'true' if fibers else 'false', kernel, config))
        pos = close_at + 3


def main():
    source, target = sys.argv[1], sys.argv[2]
    with open(source, encoding='utf-8') as f:
        text = f.read()
    try:
        body = translate(text, synchronises(source))
    except ValueError as error:
        sys.exit('%s: %s' % (source, error))
    with open(target, 'w', encoding='utf-8') as f:
        # nvcc includes the runtime header implicitly; g++ needs it spelled out.
        f.write('#include <cuda_runtime.h>\n#line 1 "%s"\n' % source)
        f.write(body)


if __name__ == '__main__':
    main()
