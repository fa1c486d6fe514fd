"""The public API: takes a post, calls the stages, assembles entity/type/box/mask."""
