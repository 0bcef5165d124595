"""Training: config, alignment, dataset, augmentation, splits, metrics, trainer and model card."""
