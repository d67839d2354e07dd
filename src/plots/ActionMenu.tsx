/**
 * A menu button ("More actions", ⋯) after the WAI-ARIA menu button pattern: the button
 * opens a `role="menu"` list whose items take focus; arrow keys, Home and End move
 * between them, Escape closes the menu and gives focus back to the button, and choosing
 * an item closes the menu before the item's action runs (its dialog then returns focus
 * to the button, not to a removed item).
 */
import { LabIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

export interface IActionMenuItem {
  /** Unique among the menu's items (React key). */
  key: string;
  label: string;
  /** Class of the item's element (what tests and styles select it by). */
  className: string;
  /** `data-*` attributes of the item, e.g. { table: 'cells' } → data-table="cells". */
  data?: Record<string, string>;
  icon?: LabIcon;
  onSelect(): void;
}

export interface IActionMenuProps {
  /** The button's accessible name and tooltip. */
  label: string;
  icon: LabIcon;
  items: readonly IActionMenuItem[];
  className?: string;
}

export function ActionMenu(props: IActionMenuProps): JSX.Element {
  const { label, items } = props;
  const [open, setOpen] = React.useState(false);
  const [active, setActive] = React.useState(0);
  const containerRef = React.useRef<HTMLDivElement>(null);
  const buttonRef = React.useRef<HTMLButtonElement>(null);
  const itemRefs = React.useRef<(HTMLButtonElement | null)[]>([]);
  const menuId = `jp-exprscope-menu-${React.useId().replace(/:/g, '')}`;

  const openAt = (index: number) => {
    setActive(index);
    setOpen(true);
  };
  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) {
      buttonRef.current?.focus();
    }
  };

  // The active item holds the focus while the menu is open (roving focus).
  React.useEffect(() => {
    if (open) {
      itemRefs.current[active]?.focus();
    }
  }, [open, active]);

  // A press anywhere else closes the menu, as JupyterLab's own menus do.
  React.useEffect(() => {
    if (!open) {
      return;
    }
    const onPointerDown = (event: PointerEvent) => {
      if (!containerRef.current?.contains(event.target as Node)) {
        setOpen(false);
      }
    };
    document.addEventListener('pointerdown', onPointerDown, true);
    return () =>
      document.removeEventListener('pointerdown', onPointerDown, true);
  }, [open]);

  const onButtonKeyDown = (event: React.KeyboardEvent) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      openAt(event.key === 'ArrowDown' ? 0 : items.length - 1);
    }
  };

  const onMenuKeyDown = (event: React.KeyboardEvent) => {
    const n = items.length;
    const moves: Record<string, number> = {
      ArrowDown: (active + 1) % n,
      ArrowUp: (active - 1 + n) % n,
      Home: 0,
      End: n - 1
    };
    if (event.key in moves) {
      event.preventDefault();
      setActive(moves[event.key]);
    } else if (event.key === 'Escape') {
      // Only this menu closes, not a dialog or panel around it.
      event.preventDefault();
      event.stopPropagation();
      close(true);
    } else if (event.key === 'Tab') {
      close(false);
    }
  };

  const choose = (item: IActionMenuItem) => {
    close(true);
    item.onSelect();
  };

  const ButtonIcon = props.icon;
  return (
    <div
      ref={containerRef}
      className={`jp-exprscope-action-menu ${props.className ?? ''}`}
    >
      <button
        ref={buttonRef}
        type="button"
        className="jp-Button jp-mod-styled jp-exprscope-icon-button jp-exprscope-more-actions"
        aria-label={label}
        title={label}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        disabled={items.length === 0}
        onClick={() => (open ? close(true) : openAt(0))}
        onKeyDown={onButtonKeyDown}
      >
        <ButtonIcon.react tag="span" className="jp-exprscope-icon" />
      </button>
      {open && (
        <ul
          id={menuId}
          className="jp-exprscope-menu"
          role="menu"
          aria-label={label}
          onKeyDown={onMenuKeyDown}
        >
          {items.map((item, index) => {
            const ItemIcon = item.icon;
            const data = Object.fromEntries(
              Object.entries(item.data ?? {}).map(([name, value]) => [
                `data-${name}`,
                value
              ])
            );
            return (
              <li key={item.key} role="none">
                <button
                  ref={element => {
                    itemRefs.current[index] = element;
                  }}
                  type="button"
                  role="menuitem"
                  tabIndex={index === active ? 0 : -1}
                  className={`jp-exprscope-menu-item ${item.className}`}
                  {...data}
                  onClick={() => choose(item)}
                  onMouseEnter={() => setActive(index)}
                >
                  {ItemIcon ? (
                    <ItemIcon.react tag="span" className="jp-exprscope-icon" />
                  ) : (
                    <span className="jp-exprscope-icon" />
                  )}
                  {item.label}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
