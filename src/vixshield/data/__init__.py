"""Market data: loaders for real file formats, the local store, fetchers, the VX curve."""
