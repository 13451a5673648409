"""The default receiver-side gallery: downscaled scikit-image sample photos with descriptions
(``gallery.yaml``). Used by the offline text -> image backend (retrieval, not generation)."""
