"""An IMAGE_DETECTION dataset drawn with Pillow: squares, circles and triangles on noisy ground.

Each 64 x 64 RGB image holds one to three shapes (10 to 26 pixels across, never overlapping, in
colours that stand out from the background); its boxes are exact. A split is written in COCO's
layout, one zip: ``<split>/NNNNN.png`` and ``annotations/instances_<split>.json``.
"""
import colorsys
import io
import json
import random
import zipfile

import numpy as np

SIZE = 64
CATEGORIES = [{'id': 1, 'name': 'square', 'supercategory': 'shape'},
              {'id': 2, 'name': 'circle', 'supercategory': 'shape'},
              {'id': 3, 'name': 'triangle', 'supercategory': 'shape'}]


def draw_image(rng: random.Random):
    """``(Pillow image, [(category_id, [x, y, w, h]), ...])``."""
    from PIL import Image, ImageDraw
    hue = rng.random()
    ground = np.array(colorsys.hsv_to_rgb(hue, 0.25, 0.35)) * 255
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 12, (SIZE, SIZE, 3))
    image = Image.fromarray(np.clip(ground + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    boxes = []
    for _ in range(rng.randint(1, 3)):
        for _attempt in range(20):
            side = rng.randint(10, 26)
            x, y = rng.randint(0, SIZE - side), rng.randint(0, SIZE - side)
            if all(x + side + 2 <= bx or bx + bw + 2 <= x or y + side + 2 <= by or by + bh + 2 <= y
                   for _, (bx, by, bw, bh) in boxes):
                break
        else:
            continue
        colour = tuple(int(255 * c) for c in colorsys.hsv_to_rgb((hue + rng.uniform(0.3, 0.7)) % 1, 0.8, 0.95))
        category = rng.randint(1, 3)
        corners = (x, y, x + side - 1, y + side - 1)
        if category == 1:
            draw.rectangle(corners, fill=colour)
        elif category == 2:
            draw.ellipse(corners, fill=colour)
        else:
            draw.polygon([(x + (side - 1) / 2, y), (x, y + side - 1), (x + side - 1, y + side - 1)], fill=colour)
        boxes.append((category, [x, y, side, side]))
    return image, boxes


def write_coco_zip(path: str, split: str, count: int, seed: int) -> None:
    rng = random.Random(seed)
    images, annotations = [], []
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as archive:
        for i in range(count):
            image, boxes = draw_image(rng)
            name = f'{i:05d}.png'
            png = io.BytesIO()
            image.save(png, format='PNG')
            archive.writestr(f'{split}/{name}', png.getvalue())
            images.append({'id': i + 1, 'file_name': name, 'width': SIZE, 'height': SIZE})
            for category, box in boxes:
                annotations.append({'id': len(annotations) + 1, 'image_id': i + 1, 'category_id': category,
                                    'bbox': box, 'area': box[2] * box[3], 'iscrowd': 0})
        coco = {'images': images, 'annotations': annotations, 'categories': CATEGORIES}
        archive.writestr(f'annotations/instances_{split}.json', json.dumps(coco))
