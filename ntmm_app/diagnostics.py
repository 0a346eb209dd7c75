"""Checks of the window as a user sees it, for tests and ``scripts/screenshots.py``.

:func:`clipped_widgets` lists the visible labels and buttons whose text does not fit and is neither
wrapped nor elided with a tooltip, and scroll areas whose content is cut off without a scroll bar:
what issue 18 found by eye at 1024x700 ("Failed: …has a header but no d").
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QAbstractScrollArea, QLabel, QWidget

from .widgets.elided_label import ElidedLabel

SLACK = 2  # pixels of rounding between size hints and geometry


def _shown(w: QWidget) -> bool:
    return w.isVisible() and w.width() > 0 and w.height() > 0


def clipped_widgets(root: QWidget) -> list[str]:
    """Descriptions of what is cut off inside ``root`` (empty when everything fits or scrolls)."""
    out: list[str] = []
    for label in root.findChildren(QLabel):
        if not _shown(label) or isinstance(label, ElidedLabel) or not label.text().strip():
            continue
        rich = label.textFormat() == Qt.TextFormat.RichText or label.text().lstrip().startswith("<")
        if rich and not label.wordWrap():
            continue  # one-line rich text (tables, links) lays itself out; checked by eye in the screenshots
        if label.pixmap() is not None and not label.pixmap().isNull():
            continue
        if label.wordWrap():  # plain or rich: a wrapped label must have the height of all its lines
            need = label.heightForWidth(label.width())
            if need > label.height() + SLACK:
                out.append(f"label {label.objectName() or '?'} {label.text()[:60]!r}: needs {need}px height, has {label.height()}")
        elif label.sizeHint().width() > label.width() + SLACK:
            out.append(f"label {label.objectName() or '?'} {label.text()[:60]!r}: needs {label.sizeHint().width()}px, has {label.width()}")
    for button in root.findChildren(QAbstractButton):
        if _shown(button) and button.text() and button.sizeHint().width() > button.width() + SLACK \
                and button.metaObject().className() not in ("QToolButton",):
            out.append(f"button {button.text()!r}: needs {button.sizeHint().width()}px, has {button.width()}")
    for area in root.findChildren(QAbstractScrollArea):
        if not _shown(area) or area.property("scrollsWithParent"):
            continue  # (a frozen column is scrolled by the table it lies over)
        for bar, policy in ((area.horizontalScrollBar(), area.horizontalScrollBarPolicy()),
                            (area.verticalScrollBar(), area.verticalScrollBarPolicy())):
            if policy == Qt.ScrollBarPolicy.ScrollBarAlwaysOff and bar.maximum() > 0:
                out.append(f"scroll area {area.objectName() or area.metaObject().className()}: content cut off with its scroll bar off")
    out += overflowing_widgets(root)
    out += overflowing_plots(root)
    return out


def overflowing_plots(root: QWidget) -> list[str]:
    """pyqtgraph plots whose content (axes, title, bars) is larger than the view that shows it: the
    scene is cut at the view's edge ("Examples per" for "Examples per class and split")."""
    import pyqtgraph as pg

    out = []
    for view in root.findChildren(pg.GraphicsView):
        item = getattr(view, "centralWidget", None)
        if not _shown(view) or item is None:
            continue
        g, vr = item.geometry(), view.viewport().rect()
        if g.width() > vr.width() + SLACK or g.height() > vr.height() + SLACK:
            title = ""
            if isinstance(item, pg.PlotItem) and item.titleLabel.isVisible():
                title = item.titleLabel.text
            out.append(f"plot {title!r}: content {g.width():.0f}x{g.height():.0f} in a view of {vr.width()}x{vr.height()}")
        elif isinstance(item, pg.PlotItem) and item.titleLabel.isVisible() and item.titleLabel.text:
            need = item.titleLabel.item.boundingRect().width()
            if need > vr.width() + SLACK:
                out.append(f"plot title {item.titleLabel.text!r}: needs {need:.0f}px, the plot is {vr.width()}px wide")
    return out


def overflowing_widgets(root: QWidget) -> list[str]:
    """Visible widgets laid out beyond their parent's rectangle: a layout squeezed below its minimum
    size draws children over each other or off the edge (charts cut mid-bar). Contents of scroll areas
    may extend beyond the viewport: that is what the scroll bar is for."""
    out = []
    for w in root.findChildren(QWidget):
        parent = w.parentWidget()
        if parent is None or not _shown(w) or w.isWindow() or parent.objectName() == "qt_scrollarea_viewport":
            continue
        if isinstance(parent, QAbstractScrollArea) or parent.metaObject().className() in ("QTabBar", "QScrollBar"):
            continue
        g, r = w.geometry(), parent.rect()
        if g.right() > r.right() + SLACK or g.bottom() > r.bottom() + SLACK or g.left() < -SLACK or g.top() < -SLACK:
            name = w.objectName() or w.metaObject().className()
            out.append(f"{name} in {parent.objectName() or parent.metaObject().className()}: "
                       f"{g.width()}x{g.height()} at ({g.x()},{g.y()}) beyond {r.width()}x{r.height()}")
    return out
