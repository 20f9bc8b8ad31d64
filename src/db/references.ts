import { JoinColumn, ManyToOne, type ObjectType } from 'typeorm';

/**
 * A foreign key from `<column>` to another entity's primary key, with a named constraint. Put it on a
 * relation property beside the plain id column of the same name; code reads and writes the id.
 */
export function References<T>(
  target: () => ObjectType<T>,
  column: string,
  constraint: string,
  options: { nullable?: boolean; onDelete?: 'CASCADE' | 'SET NULL' | 'RESTRICT' | 'NO ACTION' } = {},
): PropertyDecorator {
  const many = ManyToOne(target, {
    nullable: options.nullable ?? false,
    onDelete: options.onDelete ?? 'RESTRICT',
  });
  const join = JoinColumn({ name: column, foreignKeyConstraintName: constraint });
  return (prototype, property) => {
    many(prototype, property);
    join(prototype, property);
  };
}
