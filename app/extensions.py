"""Flask extensions, created unbound and registered in ``create_app`` with ``init_app``."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for the typed (``Mapped[...]``) models."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
