"""What the user sees and touches: panes, dialogs, the theme. Widgets emit signals and show
what they are given; they decide nothing about models, files or requests."""
