"""mllab.model.preprocess: one function for every runtime, matching torchvision's ImageNet
recipe."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mllab.core.errors import InputError
from mllab.core.paths import DATA
from mllab.model.preprocess import (
    class_names,
    load_image,
    preprocess,
    preprocess_batch,
    sample_images,
    top_k,
)


def test_sample_images_are_small_real_photos():
    names = {p.stem for p in sample_images()}
    assert {"cat", "coffee", "astronaut", "rocket"} <= names
    assert sum(p.stat().st_size for p in sample_images()) < 300_000
    assert (DATA / "LICENSE.md").read_text().count("|") > 20, "every photo has a credit"


def test_preprocess_shape_dtype_and_normalisation():
    x = preprocess(sample_images()[0])
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    # ImageNet normalisation maps [0, 1] to roughly [-2.1, 2.7]
    assert -2.2 < x.min() < 0 < x.max() < 2.7


def test_matches_torchvision_transforms():
    transforms = pytest.importorskip("torchvision.transforms")
    recipe = transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    for path in sample_images():
        expected = recipe(Image.open(path).convert("RGB")).numpy()
        np.testing.assert_allclose(preprocess(path), expected, atol=1e-5, err_msg=path.name)


def test_bytes_path_and_image_agree_and_grey_becomes_rgb():
    path = DATA / "camera.jpg"  # a grey-level photo
    assert Image.open(path).mode == "L"
    from_path = preprocess(path)
    np.testing.assert_array_equal(from_path, preprocess(path.read_bytes()))
    np.testing.assert_array_equal(from_path, preprocess(Image.open(path)))
    assert load_image(path).mode == "RGB"


def test_rgba_png_is_accepted():
    buffer = io.BytesIO()
    Image.new("RGBA", (300, 200), (255, 0, 0, 128)).save(buffer, format="PNG")
    assert preprocess(buffer.getvalue()).shape == (3, 224, 224)


def test_batch():
    batch = preprocess_batch(sample_images()[:3])
    assert batch.shape == (3, 3, 224, 224) and batch.dtype == np.float32
    with pytest.raises(InputError, match="empty"):
        preprocess_batch([])


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", (DATA / "cat.jpg").read_bytes()[:2000]],
    ids=["empty", "garbage", "truncated-jpeg"],
)
def test_corrupt_data_is_an_input_error(data):
    with pytest.raises(InputError, match="image"):
        load_image(data)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such image"):
        preprocess(tmp_path / "missing.jpg")


def test_class_names():
    names = class_names()
    assert len(names) == 1000 == len(set(names))
    assert names[0] == "tench" and names[281] == "tabby" and names[999] == "toilet tissue"


def test_top_k_on_known_logits():
    logits = np.zeros((2, 1000), dtype=np.float32)
    logits[0, 281], logits[0, 0] = 10.0, 9.0
    logits[1, 999] = 5.0
    best = top_k(logits, k=3)
    assert [name for name, _ in best[0][:2]] == ["tabby", "tench"]
    assert best[1][0][0] == "toilet tissue"
    probabilities = [p for _, p in best[0]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0
    assert best[0][0][1] == pytest.approx(np.exp(10) / (np.exp(10) + np.exp(9) + 998))
    assert len(top_k(logits[0])) == 1 and len(top_k(logits[0])[0]) == 5


def test_top_k_rejects_bad_logits():
    with pytest.raises(InputError, match="shape"):
        top_k(np.zeros((1, 10)))
    with pytest.raises(InputError, match="NaN"):
        top_k(np.full((1, 1000), np.nan))


def test_slim_modules_do_not_import_torch_or_onnx():
    code = (
        "import sys, mllab.model.preprocess, mllab.measure.drift, mllab.model.integrity, "
        "mllab.measure.stats; "
        "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_decompression_bomb_is_refused_before_decoding():
    import io

    from PIL import Image

    from mllab.core.errors import InputError
    from mllab.model import preprocess

    buffer = io.BytesIO()
    Image.new("L", (9000, 9000)).save(buffer, format="PNG")  # 81 MP, a few KB on disk
    with pytest.raises(InputError, match="megapixels"):
        preprocess.load_image(buffer.getvalue())
