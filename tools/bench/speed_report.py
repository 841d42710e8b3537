"""The Markdown report of tools/bench/bench_speed.py (speed.md, seams.md), from its JSON result."""

import statistics

#: the speed targets for the default model, Kodak, 8 iterations, best backend
TARGETS = {"encode_s": 1.0, "decode_s": 0.5}
#: the speed targets quote a public PyTorch implementation of the paper-size LSTM model at 42 s encode and
#: 29 s decode (8 iterations, 2 threads); tools/bench/bench_pytorch_reference.py re-measures it here
ISSUE_PYTORCH_S = {"encode_s": 42.0, "decode_s": 29.0}


def paper_line(row, reference, threads):
    """One sentence comparing a paper-size row with the PyTorch implementation (LSTM cells)."""
    if reference:
        torch = {"encode_s": reference["encode_wall_s"], "decode_s": reference["decode_wall_s"]}
        source = (f"measured on this machine by tools/bench/bench_pytorch_reference.py, "
                  f"{reference.get('threads', '?')} threads")
    else:
        torch, source = ISSUE_PYTORCH_S, "as quoted with the speed targets, on another machine"
    equal = "LSTM" in row["codec"]
    return (f"Paper size ({row['codec']}, {row['backend']}, {row['setting']}, "
            f"{threads or 'default'} threads): encode {row['encode_s']:.1f} s wall / "
            f"{row['encode_cpu_s']:.1f} CPU s, decode {row['decode_s']:.1f} s wall / "
            f"{row['decode_cpu_s']:.1f} CPU s.  The PyTorch implementation (LSTM cells, {source}) "
            f"takes {torch['encode_s']:.1f} s / {torch['decode_s']:.1f} s: we are "
            f"{torch['encode_s'] / row['encode_s']:.2f}x / {torch['decode_s'] / row['decode_s']:.2f}x "
            "faster" + (" at equal architecture (target 2x)." if equal else
                        "; not equal architecture: a GRU's RNN convolutions cost 3/4 of an "
                        "LSTM's."))


def _fmt(value, digits=3):
    return "" if value is None else f"{value:.{digits}f}"


def markdown(result):
    """OUT/speed.md (and seams.md) from a bench_speed result."""
    lines = ["| codec | backend | setting | encode s | decode s | encode CPU s | decode CPU s | "
             "first use s | encode MP/s | peak RSS MB | encode / JPEG |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    jpeg = next((r for r in result["rows"] if r["codec"].startswith("JPEG")), None)
    mp = result["megapixels"]
    for r in result["rows"]:
        ratio = f"{r['encode_s'] / jpeg['encode_s']:.0f}x" if jpeg else ""
        lines.append(f"| {r['codec']} | {r.get('backend', '')} | {r['setting']} | "
                     f"{r['encode_s']:.3f} | {r['decode_s']:.3f} | "
                     f"{_fmt(r.get('encode_cpu_s'))} | {_fmt(r.get('decode_cpu_s'))} | "
                     f"{_fmt(r.get('first_use_s'), 1)} | "
                     f"{r.get('megapixels', mp) / r['encode_s']:.2f} | "
                     f"{r['peak_rss_mb']:.0f} | {ratio} |")
    ours = [r for r in result["rows"] if r["codec"].startswith("tfrnncomp ")
            and r.get("iterations") == 8 and "megapixels" not in r]
    if ours:
        enc = min(ours, key=lambda r: r["encode_s"])
        dec = min(ours, key=lambda r: r["decode_s"])
        lines += ["", f"Targets (default model, 8 iterations, best backend): encode "
                  f"{enc['encode_s']:.2f} s wall / {enc['encode_cpu_s']:.2f} CPU s "
                  f"({enc['backend']}) vs {TARGETS['encode_s']} s; decode "
                  f"{dec['decode_s']:.2f} s wall / {dec['decode_cpu_s']:.2f} CPU s "
                  f"({dec['backend']}) vs {TARGETS['decode_s']} s.  With 2 threads on an idle "
                  "machine wall time lies between CPU seconds / 2 and CPU seconds."]
    reference = result.get("pytorch_reference")
    for r in result["rows"]:
        if r["codec"].startswith("paper-size"):
            lines += ["", paper_line(r, reference, result.get("threads"))]
    if result.get("seams"):
        s = result["seams"]
        d_psnr = statistics.mean(r["psnr_tiled"] - r["psnr_untiled"] for r in s)
        d_ssim = statistics.mean(r["ms_ssim_tiled"] - r["ms_ssim_untiled"] for r in s)
        lines += ["", f"Seams (tile {result['seam_tile']}, {len(s)} images, "
                  f"{result['seam_iterations']} iterations): mean PSNR difference tiled - "
                  f"untiled {d_psnr:+.3f} dB, MS-SSIM {d_ssim:+.5f}."]
        if "band_psnr_tiled" in s[0]:
            d_band = statistics.mean(r["band_psnr_tiled"] - r["band_psnr_untiled"] for r in s)
            d_inner = statistics.mean(r["inner_psnr_tiled"] - r["inner_psnr_untiled"]
                                      for r in s)
            lines[-1] += (f" Within 8 pixels of a tile border {d_band:+.3f} dB, elsewhere "
                          f"{d_inner:+.3f} dB.")
    if result.get("cpu"):
        lines += ["", f"CPU: {result['cpu']}, {result.get('cpu_count')} cores; load average at "
                  f"the end {', '.join(f'{v:.1f}' for v in result.get('load_average_end', []))}."]
    for failure in result.get("failures", []):
        lines += ["", f"Failed: {failure}"]
    return "\n".join(lines) + "\n"
