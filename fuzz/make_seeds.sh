#!/usr/bin/env bash
# Makes the seed corpus in seeds/ again: tiny real files, each under 20 KB,
# from espeak-ng (Vietnamese speech), ffmpeg (every audio format hub-media
# decodes, PNG/JPEG/WebP pictures, H.264 MP4 with mov_text subtitles) and
# python3 (the same MP4 with its subtitles as WebVTT, which ffmpeg cannot
# write into MP4). The SRT seeds are written by hand here too.
set -euo pipefail
cd "$(dirname "$0")/seeds"
mkdir -p audio_decode picture mp4 srt
work=$(mktemp -d)
trap 'rm -r "$work"' EXIT
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }

espeak-ng -v vi -w "$work/speech.wav" "Xin chào bà con"
a=audio_decode
ff -i "$work/speech.wav" -t 0.5 -ar 8000 -ac 1 -c:a pcm_s16le $a/speech_8k.wav
ff -i "$work/speech.wav" -t 0.3 -ar 11025 -ac 2 -c:a adpcm_ima_wav $a/stereo_adpcm.wav
ff -i "$work/speech.wav" -t 1 -ar 22050 -ac 1 -c:a libmp3lame -b:a 16k $a/speech.mp3
ff -i "$work/speech.wav" -t 0.5 -ar 16000 -ac 1 -c:a flac $a/speech.flac
ff -i "$work/speech.wav" -t 1 -ar 22050 -ac 1 -c:a libvorbis -q:a 0 $a/speech_vorbis.ogg
ff -i "$work/speech.wav" -t 1 -ac 1 -c:a libopus -b:a 12k $a/speech_opus.ogg
ff -i "$work/speech.wav" -t 1 -ar 16000 -ac 1 -c:a aac -b:a 16k $a/speech.m4a
ff -f lavfi -i "sine=f=440:d=0.2:r=8000" -c:a pcm_s16le -f aiff $a/tone.aiff

p=picture
still="testsrc2=s=48x32"
ff -f lavfi -i $still -frames:v 1 -c:v png $p/test.png
ff -f lavfi -i $still -frames:v 1 -pix_fmt rgba -c:v png $p/alpha.png
ff -f lavfi -i $still -frames:v 1 -q:v 8 $p/test.jpg
ff -f lavfi -i $still -frames:v 1 -c:v libwebp -lossless 0 $p/lossy.webp
ff -f lavfi -i $still -frames:v 1 -c:v libwebp -lossless 1 $p/lossless.webp

cat > srt/markup.srt <<'SRT'
1
00:00:00,000 --> 00:00:00,500
Xin chào <i>bà con</i>

2
00:00:00,500 --> 00:00:01,000
{\an8}Thông báo
SRT
printf '\xef\xbb\xbf1\r\n00:00:01,000 --> 00:00:02,500 X1:10 X2:20\r\nDòng một\r\nDòng hai\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\nHết\r\n' >srt/crlf_bom.srt

m=mp4
video="testsrc2=s=32x16:r=5:d=1"
h264=(-c:v libx264 -preset ultrafast -pix_fmt yuv420p)
ff -f lavfi -i $video -i srt/markup.srt -c:s mov_text "${h264[@]}" $m/h264_mov_text.mp4
ff -f lavfi -i $video -i srt/markup.srt -c:s mov_text "${h264[@]}" \
    -movflags frag_keyframe+empty_moov $m/h264_fragmented.mp4
ff -f lavfi -i $video "${h264[@]}" $m/h264_no_subtitles.mp4

# The mov_text track as WebVTT in MP4: its stsd entry becomes `wvtt`, each
# sample a `vttc` box holding a `payl` (or a `vtte` gap), written to a new
# mdat at the end, and the track's stsz and stco point there.
python3 - $m/h264_mov_text.mp4 $m/h264_webvtt.mp4 <<'PY'
import struct, sys

d = bytearray(open(sys.argv[1], "rb").read())

def boxes(start, end):
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", d[start:start + 8])
        yield kind, start, start + size
        start += size

def child(parent, kind):
    return next((s, e) for k, s, e in boxes(parent[0] + 8, parent[1]) if k == kind)

def u32s(at, count):
    return list(struct.unpack(f">{count}I", d[at:at + 4 * count]))

moov = next((s, e) for k, s, e in boxes(0, len(d)) if k == b"moov")
body = b""
for kind, s, e in boxes(moov[0] + 8, moov[1]):
    if kind != b"trak":
        continue
    stbl = child(child(child((s, e), b"mdia"), b"minf"), b"stbl")
    entry = child(stbl, b"stsd")[0] + 16
    if d[entry + 4:entry + 8] != b"tx3g":
        continue
    d[entry + 4:entry + 8] = b"wvtt"
    stsz, stco, stsc = (child(stbl, k)[0] for k in (b"stsz", b"stco", b"stsc"))
    uniform, count = u32s(stsz + 12, 2)
    assert uniform == 0
    sizes = u32s(stsz + 20, count)
    (chunks,) = u32s(stco + 12, 1)
    offsets = u32s(stco + 16, chunks)
    (runs,) = u32s(stsc + 12, 1)
    table = [u32s(stsc + 16 + 12 * i, 3) for i in range(runs)]
    per_chunk = [[r[1] for r in table if r[0] <= c][-1] for c in range(1, chunks + 1)]
    n = 0
    for c, offset in enumerate(offsets):
        d[stco + 16 + 4 * c:stco + 20 + 4 * c] = struct.pack(">I", len(d) + 8 + len(body))
        for _ in range(per_chunk[c]):
            sample = bytes(d[offset:offset + sizes[n]])
            offset += sizes[n]
            (length,) = struct.unpack(">H", sample[:2])
            text = sample[2:2 + length]
            if text:
                payl = struct.pack(">I4s", 8 + len(text), b"payl") + text
                vtt = struct.pack(">I4s", 8 + len(payl), b"vttc") + payl
            else:
                vtt = struct.pack(">I4s", 8, b"vtte")
            d[stsz + 20 + 4 * n:stsz + 24 + 4 * n] = struct.pack(">I", len(vtt))
            body += vtt
            n += 1
d += struct.pack(">I4s", 8 + len(body), b"mdat") + body
open(sys.argv[2], "wb").write(d)
PY
