"""Read an exported file with real readers and print what the UI tests check, as JSON.

Pillow for PNG/JPEG/TIFF (pixel size, DPI, metadata), poppler's pdfinfo/pdftotext for PDF
(page size in points, document info, text kept as text), an XML parser for SVG.
Usage: python inspect_export.py <file>
"""

import base64
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

from PIL import Image


def svg_image(image: ET.Element) -> dict:
    href = image.get("{http://www.w3.org/1999/xlink}href") or image.get("href") or ""
    with Image.open(io.BytesIO(base64.b64decode(href.partition(",")[2]))) as picture:
        pixels = list(picture.size)
    return {
        "width": float(image.get("width", 0)),
        "height": float(image.get("height", 0)),
        "pixels": pixels,
    }


def inspect(path: str) -> dict:
    if path.endswith(".pdf"):
        info = subprocess.run(["pdfinfo", path], capture_output=True, text=True, check=True)
        fields = {}
        for line in info.stdout.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        text = subprocess.run(
            ["pdftotext", "-layout", path, "-"], capture_output=True, text=True, check=True
        ).stdout
        fonts = subprocess.run(["pdffonts", path], capture_output=True, text=True).stdout
        # pdfimages -list: a header of two lines, then "page num type width height ..."
        listing = subprocess.run(
            ["pdfimages", "-list", path], capture_output=True, text=True, check=True
        ).stdout.splitlines()[2:]
        images = [[int(v) for v in line.split()[3:5]] for line in listing if line.strip()]
        return {"format": "pdf", "info": fields, "text": text, "fonts": fonts, "images": images}
    if path.endswith(".svg"):
        root = ET.parse(path).getroot()
        ns = "{http://www.w3.org/2000/svg}"
        metadata = root.find(f"{ns}metadata")
        texts = ["".join(t.itertext()) for t in root.iter(f"{ns}text")]
        return {
            "format": "svg",
            "width": root.get("width"),
            "height": root.get("height"),
            "metadata": None if metadata is None else "".join(metadata.itertext()),
            "texts": texts,
            # Embedded pictures (a heatmap's cells): their drawn size and their pixels
            "images": [svg_image(image) for image in root.iter(f"{ns}image")],
        }
    with Image.open(path) as image:
        result = {
            "format": image.format.lower(),
            "size": list(image.size),
            "dpi": [float(v) for v in image.info.get("dpi", (0, 0))],
            "text": {k: v for k, v in image.info.items() if isinstance(v, str)},
        }
        if image.format == "TIFF":
            result["description"] = image.tag_v2.get(270)
            result["resolution_unit"] = image.tag_v2.get(296)
        if image.format == "JPEG":
            result["comment"] = (image.info.get("comment") or b"").decode("utf-8", "replace")
            result["jfif_density"] = list(image.info.get("jfif_density", (0, 0)))
            result["jfif_unit"] = image.info.get("jfif_unit")
        return result


if __name__ == "__main__":
    print(json.dumps(inspect(sys.argv[1])))
