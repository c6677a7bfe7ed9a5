"""双向考评 (mutual ratings between streets and departments) and the monthly agency ranking they feed."""
