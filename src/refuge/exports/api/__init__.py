"""The exports API router (endpoints) and its schemas, split to keep each module small."""

from refuge.exports.api.endpoints import PATH_OBJECTS, router

__all__ = ["PATH_OBJECTS", "router"]
