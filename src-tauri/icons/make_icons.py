"""Draws Flowpilot's icons (a rounded blue square with three linked steps) as PNG
files with the standard library only. Run it from this folder to regenerate them."""

import struct
import zlib


def png(width, height, pixels):
    """RGBA rows -> PNG bytes."""
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def coverage(inside, x, y, samples=4):
    """Anti-aliasing: the share of sub-pixel samples inside a shape."""
    hits = 0
    for i in range(samples):
        for j in range(samples):
            if inside(x + (i + 0.5) / samples, y + (j + 0.5) / samples):
                hits += 1
    return hits / (samples * samples)


def draw(size):
    s = size
    radius = s * 0.22

    def rounded_square(px, py):
        m = s * 0.04
        lo, hi = m + radius, s - m - radius
        cx = min(max(px, lo), hi)
        cy = min(max(py, lo), hi)
        return (px - cx) ** 2 + (py - cy) ** 2 <= radius ** 2 and m <= px <= s - m and m <= py <= s - m

    nodes = [(0.30, 0.68), (0.50, 0.36), (0.72, 0.62)]
    node_r = s * 0.095
    line_w = s * 0.055

    def near_segment(px, py, a, b):
        ax, ay = a[0] * s, a[1] * s
        bx, by = b[0] * s, b[1] * s
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
        qx, qy = ax + t * dx, ay + t * dy
        return (px - qx) ** 2 + (py - qy) ** 2 <= (line_w / 2) ** 2

    def glyph(px, py):
        if any((px - nx * s) ** 2 + (py - ny * s) ** 2 <= node_r ** 2 for nx, ny in nodes):
            return True
        return near_segment(px, py, nodes[0], nodes[1]) or near_segment(px, py, nodes[1], nodes[2])

    rows = []
    for y in range(s):
        row = []
        for x in range(s):
            bg = coverage(rounded_square, x, y)
            fg = coverage(glyph, x, y) if bg > 0 else 0.0
            # A vertical gradient from #3b82f6 to #1d4ed8.
            t = y / max(1, s - 1)
            r = round(0x3B + (0x1D - 0x3B) * t)
            g = round(0x82 + (0x4E - 0x82) * t)
            b = round(0xF6 + (0xD8 - 0xF6) * t)
            r = round(r + (255 - r) * fg)
            g = round(g + (255 - g) * fg)
            b = round(b + (255 - b) * fg)
            row += [r, g, b, round(255 * bg)]
        rows.append(row)
    return png(s, s, rows)


for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512), ("tray.png", 64)]:
    with open(name, "wb") as f:
        f.write(draw(size))
