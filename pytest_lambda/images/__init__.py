"""Runtime images: recipes and tags, the Debian bases, the build pipeline, the image policy,
container-image functions, and saved images for CI caches.
"""
