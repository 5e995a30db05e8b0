"""The ANCE loop (`ance`) and its warm-up (`warmup`): orchestration above training and mining."""
